# loses points on: q1
# DDN whose norm update is decided for the whole batch (the majority's status), not per image.
def attack(model, inputs, labels, steps=100):
    view = (-1,) + (1,) * (inputs.dim() - 1)
    delta = torch.zeros_like(inputs)
    eps = torch.tensor(1.0)
    best = inputs.clone()
    best_norm = torch.full((inputs.shape[0],), float("inf"))
    for k in range(steps):
        x = (inputs + delta).detach().requires_grad_(True)
        with torch.enable_grad():
            logits = model(x)
            grad = torch.autograd.grad(F.cross_entropy(logits, labels, reduction="sum"), x)[0]
        adversarial = logits.argmax(1) != labels
        norm = delta.flatten(1).norm(dim=1)
        improved = adversarial & (norm < best_norm)
        best = torch.where(improved.view(view), x.detach(), best)
        best_norm = torch.where(improved, norm, best_norm)
        delta = delta + grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(view)
        eps = eps * 0.95 if adversarial.float().mean() > 0.5 else eps * 1.05
        delta = delta * (eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).view(view)
        delta = (inputs + delta).clamp(0, 1) - inputs
    return best
