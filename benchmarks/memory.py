"""Peak memory of training and generation as the sequence grows.

Training memory should follow the truncation length (the graph of one
truncated chunk is alive at a time), not the window length; generation
memory should not grow with the number of tokens. Each case runs in its own
process so peak RSS is its own:

    python benchmarks/memory.py
"""

import resource
import subprocess
import sys

CASES = [
    ("train", 64, 32),
    ("train", 512, 32),
    ("train", 2048, 32),
    ("train", 512, 512),
    ("generate", 1000, 0),
    ("generate", 20000, 0),
]


def child(mode: str, length: int, truncate: int) -> None:
    import numpy as np

    import lstmininet

    lstmininet.set_num_threads(1)
    model = lstmininet.LSTM(65, hidden_size=512, num_layers=2, embedding_dim=65, seed=0)
    setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "train":
        data = list(np.random.default_rng(0).integers(0, 65, (32, length + 1)))
        model.fit(data, epochs=1, batch_size=32, seq_len=length, truncate=truncate, progress=False)
    else:
        model.generate([1], length, seed=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    what = f"window {length}, truncate {truncate}" if mode == "train" else f"{length} tokens"
    print(f"| {mode} | {what} | {setup:.0f} | {peak:.0f} |", flush=True)


def main() -> None:
    if len(sys.argv) == 4:
        child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
        return
    print("LSTM 65/65/512/2, batch 32 (training), batch 1 (generation)\n")
    print("| run | size | RSS after setup, MB | peak RSS, MB |\n|---|---|---:|---:|", flush=True)
    for mode, length, truncate in CASES:
        subprocess.run([sys.executable, __file__, mode, str(length), str(truncate)], check=True)


if __name__ == "__main__":
    main()
