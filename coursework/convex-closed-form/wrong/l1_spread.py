# loses points on: q1
# For p = 1 spreads ε over every coordinate (ε·sign(∇L)/n): the L1 ball's minimiser is a vertex.
def gnii_step(grad, eps, p):
    eps = torch.as_tensor(eps, dtype=grad.dtype).expand(grad.shape[0])[:, None]
    if p == math.inf:
        return -eps * grad.sign()
    if p == 2:
        return -eps * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return -eps * grad.sign() / grad.shape[1]
