"""A tiny demo experiment: four runs of a toy model with different learning rates."""
import math
import random

import tmt


@tmt.recorder(name="demo", description="toy regression", tags=["demo"])
def train(lr: float = 0.1, epochs: int = 20, seed: int = 0) -> dict:
    rng = random.Random(seed)
    w = rng.uniform(-1, 1)
    loss = 1.0
    for epoch in range(epochs):
        grad = 2 * (w - 0.5)
        w -= lr * grad
        loss = (w - 0.5) ** 2 + 1e-3 * rng.random()
        tmt.log({"loss": loss}, step=epoch)
    tmt.save({"w": w}, name="weights")
    return {"loss": loss, "acc": 1 - min(1.0, math.sqrt(loss))}


if __name__ == "__main__":
    for lr in (0.01, 0.05, 0.1, 0.2):
        train(lr=lr)
