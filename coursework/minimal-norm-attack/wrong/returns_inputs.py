# loses points on: q2
# Gives up: returns the clean images.
def attack(model, inputs, labels, steps=100):
    return inputs.clone()
