# loses points on: q1
# PGD that descends the loss (a sign error): it makes the examples easier, not harder.
def pgd_l2(model, images, labels, eps, steps, generator):
    view = (-1,) + (1,) * (images.dim() - 1)
    direction = torch.randn(images.shape, generator=generator)
    radius = eps * torch.rand(images.shape[0], generator=generator)
    delta = direction / direction.flatten(1).norm(dim=1).view(view) * radius.view(view)
    delta = (images + delta).clamp(0, 1) - images
    for _ in range(steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            grad = torch.autograd.grad(F.cross_entropy(model(images + delta), labels, reduction="sum"), delta)[0]
        delta = delta.detach() - 2.5 * eps / steps * grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(view)
        delta = delta * (eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).clamp(max=1).view(view)
        delta = (images + delta).clamp(0, 1) - images
    return (images + delta).detach()
