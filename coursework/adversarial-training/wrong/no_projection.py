# loses points on: q1
# PGD that never projects back onto the ε-ball: its steps add up to 2.5ε.
def pgd_l2(model, images, labels, eps, steps, generator):
    view = (-1,) + (1,) * (images.dim() - 1)
    delta = torch.zeros_like(images)
    for _ in range(steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            grad = torch.autograd.grad(F.cross_entropy(model(images + delta), labels, reduction="sum"), delta)[0]
        delta = delta.detach() + 2.5 * eps / steps * grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(view)
        delta = (images + delta).clamp(0, 1) - images
    return (images + delta).detach()
