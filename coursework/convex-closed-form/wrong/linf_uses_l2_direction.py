# loses points on: q1
# For p = ∞ moves along ∇L/‖∇L‖₂ scaled to ε: feasible, but far from the corner sign(∇L) that (GNII) picks.
def gnii_step(grad, eps, p):
    eps = torch.as_tensor(eps, dtype=grad.dtype).expand(grad.shape[0])[:, None]
    if p == 1:
        index = grad.abs().argmax(1, keepdim=True)
        return -eps * torch.zeros_like(grad).scatter(1, index, grad.gather(1, index).sign())
    direction = grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-300)
    if p == math.inf:
        direction = direction / direction.abs().amax(1, keepdim=True)
    return -eps * direction
