"""Stress: generate, evaluate, save, load and state_dict on one model from
several threads while another thread fits it, for a bounded time. Nothing
may crash (scripts/test.sh runs this under ASan+UBSan too), raise, or save
a checkpoint that does not load; every sample is complete."""

import threading
import time

import numpy as np
import pytest

from lstmininet import LSTM, load

SECONDS = 4.0


@pytest.mark.sanitize
def test_readers_and_savers_while_another_thread_fits(tmp_path):
    rng = np.random.default_rng(0)
    data = [list(rng.integers(0, 12, 80)) for _ in range(40)]
    model = LSTM(12, hidden_size=32, embedding_dim=8, seed=0)
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = {"fit": 0, "generate": 0, "evaluate": 0, "save": 0, "state_dict": 0}

    def repeat(name, action):
        def run():
            i = 0
            try:
                while not stop.is_set():
                    action(i)
                    counts[name] += 1
                    i += 1
            except BaseException as err:  # noqa: BLE001 - collected and re-raised in the main thread
                errors.append(err)
                stop.set()

        return threading.Thread(target=run, name=name)

    def fit(i):
        model.fit(data, epochs=1, batch_size=8, seq_len=16, progress=False, seed=i)

    def generate(i):
        tokens = model.generate([i % 12], 200, seed=i, top_k=5)
        assert len(tokens) == 200 and all(0 <= t < 12 for t in tokens)

    def evaluate(i):
        result = model.evaluate(data[:10], batch_size=4, seq_len=16)
        assert np.isfinite(result["loss"])

    def save(i):
        path = tmp_path / f"m{i % 3}.lmn"
        model.save(path)
        loaded = load(path)
        assert all(np.isfinite(v).all() for v in loaded.state_dict().values())

    def state_dict(i):
        assert all(np.isfinite(v).all() for v in model.state_dict().values())

    threads = [
        repeat("fit", fit),
        repeat("generate", generate),
        repeat("evaluate", evaluate),
        repeat("save", save),
        repeat("state_dict", state_dict),
    ]
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    assert all(n > 0 for n in counts.values()), counts
    assert model.epochs_done == counts["fit"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({f"m{i % 3}.lmn" for i in range(counts["save"])})
