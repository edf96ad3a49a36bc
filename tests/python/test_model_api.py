"""The Python surface of the models: training, evaluation, generation,
persistence, resume, threads and Ctrl-C."""

import _thread
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import lstmininet
from ctrl_c import ctrl_c_at_batch, sigint_raises_keyboard_interrupt
from lstmininet import GRU, LSTM
from lstmininet.datasets import split_dataset


def pattern(count=8, length=80, period=5):
    return [[(i + s) % period for i in range(length)] for s in range(count)]


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_fits_a_repeating_pattern_to_near_zero_loss(cls):
    model = cls(5, hidden_size=32, seed=0)
    history = model.fit(pattern(), epochs=40, batch_size=8, seq_len=32, lr=0.02, clip_norm=5.0, progress=False)
    assert history["train_loss"][0] > 1.0
    assert history["train_loss"][-1] < 0.05
    assert len(history["epoch"]) == 40 and history["epoch"][-1] == 40
    assert all(t > 0 for t in history["tokens_per_sec"])
    result = model.evaluate(pattern(2))
    assert result["accuracy"] > 0.99
    assert result["perplexity"] == pytest.approx(np.exp(result["loss"]))
    assert model.generate([0, 1], 10, temperature=0) == [2, 3, 4, 0, 1, 2, 3, 4, 0, 1]


def test_forward_matches_loss_and_grads():
    model = LSTM(6, hidden_size=8, num_layers=2, embedding_dim=3, seed=1)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 6, (4, 7)), rng.integers(0, 6, (4, 7))
    logits = model.forward(x)
    assert logits.shape == (4, 7, 6) and logits.dtype == np.float32
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_probs, y[..., None], -1).mean()
    loss, grads = model.loss_and_grads(x, y)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert set(grads) == set(model.state_dict())
    assert all(grads[k].shape == v.shape for k, v in model.state_dict().items())


def test_validation_fraction_and_history():
    model = LSTM(5, hidden_size=16, seed=0)
    history = model.fit(pattern(10), epochs=3, batch_size=4, seq_len=16, val_fraction=0.2, progress=False)
    assert len(history["val_loss"]) == 3 and all(np.isfinite(history["val_loss"]))
    with pytest.raises(ValueError, match="val_data or val_fraction"):
        model.fit(pattern(), epochs=1, val_data=pattern(2), val_fraction=0.1, progress=False)


def test_val_fraction_holds_out_the_split_dataset_validation_set():
    # fit(val_fraction=f, seed=s) trains and validates on exactly split_dataset(..., f, seed=s).
    sequences = [[i % 5, (i + 1) % 5, (i + 2) % 5, i % 3, 4, 0, 1] for i in range(12)]
    kwargs = dict(epochs=2, batch_size=4, seq_len=8, seed=7, progress=False)
    by_fraction = LSTM(5, hidden_size=8, seed=1).fit(sequences, val_fraction=0.25, **kwargs)
    split = split_dataset(sequences, val_fraction=0.25, seed=7)
    by_split = LSTM(5, hidden_size=8, seed=1).fit(split.train, val_data=split.val, **kwargs)
    assert len(split.val) == 3
    assert by_fraction["val_loss"] == by_split["val_loss"]
    assert by_fraction["train_loss"] == by_split["train_loss"]


def test_early_stopping_restores_best_weights():
    model = LSTM(5, hidden_size=16, seed=2)
    val = [[0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]]
    history = model.fit(
        pattern(), epochs=40, batch_size=4, seq_len=16, lr=0.5, val_data=val, patience=2, progress=False
    )
    assert history.stopped_early and len(history["epoch"]) < 40
    assert model.evaluate(val, seq_len=16)["loss"] == pytest.approx(min(history["val_loss"]), rel=1e-5)


def test_save_load_resume_equals_straight_training(tmp_path):
    kwargs = dict(batch_size=4, seq_len=16, lr=0.01, lr_step_epochs=2, progress=False)
    straight = GRU(5, hidden_size=12, embedding_dim=4, dropout=0.2, seed=3)
    straight.fit(pattern(), epochs=4, **kwargs)
    first = GRU(5, hidden_size=12, embedding_dim=4, dropout=0.2, seed=3)
    first.fit(pattern(), epochs=2, **kwargs)
    first.save(tmp_path / "half.lmn")
    resumed = GRU.load(tmp_path / "half.lmn")
    assert resumed.epochs_done == 2
    history = resumed.fit(pattern(), epochs=2, **kwargs)
    assert history["epoch"] == [3, 4]
    for name, value in straight.state_dict().items():
        np.testing.assert_array_equal(value, resumed.state_dict()[name])


@pytest.mark.parametrize("stop_at_batch", [3, 16 + 7])
def test_ctrl_c_inside_an_epoch_then_save_load_and_fit_equals_straight_training(tmp_path, capsys, stop_at_batch):
    data = pattern(16, 50)  # 64 windows of 16: 16 batches of 4 an epoch
    kwargs = dict(batch_size=4, seq_len=16, truncate=4, lr=0.01)
    make = lambda: LSTM(5, hidden_size=16, num_layers=2, embedding_dim=4, dropout=0.2, seed=3)  # noqa: E731
    straight = make()
    full = straight.fit(data, epochs=2, progress=False, **kwargs)
    stopped = make()
    with ctrl_c_at_batch(stop_at_batch):
        history = stopped.fit(data, epochs=2, progress=True, **kwargs)
    assert history.interrupted and stopped.epochs_done == (stop_at_batch - 1) // 16
    assert history.batches_done is not None and 0 < history.batches_done < 16
    said = capsys.readouterr().out
    assert f"{history.batches_done} of 16 batches of epoch {stopped.epochs_done + 1}; fit again goes on" in said
    stopped.save(tmp_path / "stopped.lmn")
    resumed = LSTM.load(tmp_path / "stopped.lmn")
    assert resumed.batches_done == stopped.batches_done == history.batches_done
    rest = resumed.fit(data, epochs=2 - resumed.epochs_done, progress=False, **kwargs)
    assert rest.batches_done is None is resumed.batches_done and rest["epoch"] == full["epoch"][stopped.epochs_done :]
    assert rest["train_loss"] == full["train_loss"][stopped.epochs_done :]
    for name, value in straight.state_dict().items():
        np.testing.assert_array_equal(value, resumed.state_dict()[name])


def test_a_stopped_epoch_restarts_with_a_warning_when_the_batching_differs():
    model = LSTM(5, hidden_size=8, seed=0)
    with ctrl_c_at_batch(2):
        stopped = model.fit(pattern(16, 50), epochs=1, batch_size=4, seq_len=16)
    assert stopped.batches_done
    with pytest.warns(RuntimeWarning, match=rf"epoch 1 had stopped after {stopped.batches_done} batches .* batch_size"):
        history = model.fit(pattern(16, 50), epochs=1, batch_size=8, seq_len=16, progress=False)
    assert history["epoch"] == [1] and history.batches_done is None


def test_a_resumed_epoch_with_only_its_end_left_reports_its_speed(capsys):
    model = LSTM(5, hidden_size=8, seed=0)
    with ctrl_c_at_batch(16):  # the epoch's last batch: only its end is left
        assert model.fit(pattern(16, 50), epochs=1, batch_size=4, seq_len=16).batches_done == 16
    history = model.fit(pattern(16, 50), epochs=1, batch_size=4, seq_len=16)  # stderr is no terminal: one line
    err = capsys.readouterr().err
    assert history["epoch"] == [1] and f"{history['tokens_per_sec'][0]:,.0f} tokens/s" in err and "nan" not in err


def test_a_signal_handlers_own_error_leaves_fit(tmp_path):
    # SystemExit from a SIGTERM handler must end the program, wherever fit notices the signal: here inside a
    # step (one batch of 64 x 4,000 steps a call, ~0.5 s), where the layers poll for signals.
    def exit_on_sigterm(signum, frame):
        raise SystemExit(3)

    model = LSTM(5, hidden_size=64, seed=0)
    previous = signal.signal(signal.SIGTERM, exit_on_sigterm)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(SystemExit):
            model.fit(pattern(64, 4001), epochs=50, batch_size=64, seq_len=4000, progress=False)
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)


def test_best_weights_survive_load_state_dict_and_a_checkpoint(tmp_path):
    val = pattern(2, 30)
    model = LSTM(5, hidden_size=8, seed=0)
    trained = model.fit(pattern(), epochs=5, batch_size=4, seq_len=16, lr=0.02, val_data=val, patience=1)
    assert trained.best_epoch == 5 and not trained.stopped_early  # the best weights are the current ones
    best = model.state_dict()
    model.load_state_dict(LSTM(5, hidden_size=8, seed=7).state_dict())  # untrained: worse on validation
    model.save(tmp_path / "m.lmn")
    loaded = LSTM.load(tmp_path / "m.lmn")
    # Steps too small to move a weight: no better epoch, so early stopping goes back to epoch 5's weights.
    history = loaded.fit(pattern(), epochs=1, batch_size=4, seq_len=16, lr=1e-30, val_data=val, patience=1)
    assert history.stopped_early and history.restored_best and history.best_epoch == 5
    for name, value in best.items():
        np.testing.assert_array_equal(value, loaded.state_dict()[name])


def test_load_checks_the_cell_type(tmp_path):
    LSTM(4, hidden_size=3, seed=0).save(tmp_path / "m.lmn")
    assert isinstance(lstmininet.load(tmp_path / "m.lmn"), LSTM)
    with pytest.raises(ValueError, match="holds a LSTM, not a GRU"):
        GRU.load(tmp_path / "m.lmn")


def test_generation_is_seeded():
    model = LSTM(7, hidden_size=8, seed=0)
    a = model.generate([1, 2, 3], 30, seed=5)
    assert a == model.generate([1, 2, 3], 30, seed=5)
    assert a != model.generate([1, 2, 3], 30, seed=6)
    assert len(a) == 30 and all(0 <= t < 7 for t in a)
    assert set(model.generate([1], 200, top_k=1, seed=1)) == set(model.generate([1], 200, temperature=0))


def _round_to_bfloat16(x: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return rounded.view(np.float32)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_bfloat16_generation_is_near_the_rounded_model(cls):
    model = cls(11, hidden_size=40, num_layers=2, embedding_dim=6, seed=3)
    model.fit(np.random.default_rng(0).integers(0, 11, (8, 33)), epochs=2, batch_size=4, seq_len=32, progress=False)
    rounded = cls(11, hidden_size=40, num_layers=2, embedding_dim=6, seed=3)
    # generation reads these weights rounded; the embedding and the first
    # layer's input weights go into a float32 table, biases stay float32
    state = {
        name: (
            _round_to_bfloat16(value)
            if name == "fc.weight" or "weight_hh" in name or ("weight_ih" in name and not name.endswith("l0"))
            else value
        )
        for name, value in model.state_dict().items()
    }
    rounded.load_state_dict(state)
    fast = model.generate([1, 2], 2000, seed=4, precision="bfloat16")
    assert fast == model.generate([1, 2], 2000, seed=4, precision="bfloat16")
    # The products' inputs are rounded too (tests/cpp/test_stepper.cpp holds
    # the products to that exactly), so the loss through the stepper is near
    # the rounded model's, and equal to neither it nor float32's.
    held_out = np.random.default_rng(1).integers(0, 11, (4, 50))
    loss = model.generation_loss(held_out, precision="bfloat16")["loss"]
    loss_rounded = rounded.generation_loss(held_out)["loss"]
    loss_float32 = model.generation_loss(held_out)["loss"]
    assert loss == pytest.approx(loss_rounded, rel=1e-3)
    assert loss not in (loss_rounded, loss_float32)
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16, int8, got 'float16'"):
        model.generate([1], 5, precision="float16")


def test_heavy_calls_release_the_gil():
    model = LSTM(50, hidden_size=256, num_layers=2, seed=0)
    tokens = np.random.default_rng(0).integers(0, 50, (64, 200))
    done = threading.Event()

    def work():
        model.forward(tokens)
        done.set()

    worker = threading.Thread(target=work)
    ticks = 0
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    # With the GIL held for the whole C++ call this loop could not run at all.
    assert ticks > 1000


def test_ctrl_c_stops_fit_between_batches_with_the_model_intact():
    model = LSTM(5, hidden_size=64, seed=0)
    before = model.state_dict()
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with sigint_raises_keyboard_interrupt():
            history = model.fit(pattern(400, 200), epochs=50, batch_size=8, seq_len=64, progress=False)
    finally:
        timer.cancel()
    assert history.interrupted
    assert len(history["epoch"]) < 50
    after = model.state_dict()
    assert all(np.isfinite(v).all() for v in after.values())
    assert any(not np.array_equal(before[k], after[k]) for k in before)  # it did train
    assert model.generate([0], 5, seed=0)  # and still works


def test_thread_setting():
    previous = lstmininet.get_num_threads()
    lstmininet.set_num_threads(1)
    assert lstmininet.get_num_threads() == 1
    lstmininet.set_num_threads(previous)
    with pytest.raises(ValueError, match="at least 1 thread"):
        lstmininet.set_num_threads(0)


@pytest.mark.sanitize
def test_two_threads_train_and_sample_as_one_would():
    # Each Python thread has its own thread tuner and thread limit; results do
    # not depend on the thread count, so concurrent runs equal sequential ones.
    data = pattern(300, 120)

    def train(model):
        model.fit(data, epochs=2, batch_size=16, seq_len=32, progress=False)

    sequential = [LSTM(5, hidden_size=64, seed=s) for s in (1, 2)]
    for m in sequential:
        train(m)
    concurrent = [LSTM(5, hidden_size=64, seed=s) for s in (1, 2)]
    workers = [threading.Thread(target=train, args=(m,)) for m in concurrent]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for a, b in zip(sequential, concurrent, strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(np.array_equal(sa[k], sb[k]) for k in sa)

    model = sequential[0]
    alone = [model.generate([0], 3000, seed=s) for s in (5, 6)]
    together = [None, None]

    def sample(i):
        together[i] = model.generate([0], 3000, seed=5 + i)

    workers = [threading.Thread(target=sample, args=(i,)) for i in (0, 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert together == alone


@pytest.mark.sanitize
def test_buffers_reused_across_threads_under_load_change_nothing():
    # Windows of 64 x 128 give the LSTM (T*B, 4H) buffers of 32 MiB, the size
    # training keeps for reuse in one cache the whole process shares
    # (cpp/base/block_cache.hpp): two models training at once, one model
    # trained by two threads, with another process busy on a core, must
    # equal the same runs done one by one.
    data = pattern(128, 129)
    options = dict(epochs=1, batch_size=64, seq_len=128, progress=False)
    sequential = [LSTM(5, hidden_size=256, seed=s) for s in (1, 2)]
    for m in sequential:
        m.fit(data, **options)
    twice = LSTM(5, hidden_size=256, seed=3)
    twice.fit(data, **options)
    twice.fit(data, **options)

    concurrent = [LSTM(5, hidden_size=256, seed=s) for s in (1, 2)]
    shared = LSTM(5, hidden_size=256, seed=3)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        workers = [threading.Thread(target=m.fit, args=(data,), kwargs=options) for m in concurrent]
        workers += [threading.Thread(target=shared.fit, args=(data,), kwargs=options) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        busy.kill()
        busy.wait()
    for a, b in zip([*sequential, twice], [*concurrent, shared], strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert shared.epochs_done == 2


@pytest.mark.sanitize
def test_threads_sharing_one_model_take_turns():
    # Two fits and a sampler on the same model at once: they used to race on
    # the gradients and weights (a segfault); now writers hold the model alone.
    data = pattern(200, 120)
    options = dict(epochs=2, batch_size=16, seq_len=32, progress=False)
    alone = LSTM(5, hidden_size=64, seed=3)
    alone.fit(data, **options)
    alone.fit(data, **options)

    shared = LSTM(5, hidden_size=64, seed=3)
    samples = []
    workers = [threading.Thread(target=shared.fit, args=(data,), kwargs=options) for _ in range(2)]
    workers.append(
        threading.Thread(target=lambda: samples.extend(shared.generate([0], 500, seed=s) for s in range(10)))
    )
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert shared.epochs_done == 4 and [len(s) for s in samples] == [500] * 10
    a, b = alone.state_dict(), shared.state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
