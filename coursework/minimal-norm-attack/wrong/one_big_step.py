# loses points on: q3
# One fixed-size gradient step (FGM with ε = 3): fools every image, far from minimal.
def attack(model, inputs, labels, steps=100):
    x = inputs.clone().requires_grad_(True)
    with torch.enable_grad():
        grad = torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)[0]
    unit = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (inputs.dim() - 1)))
    return (inputs + 3.0 * unit).clamp(0, 1)
