# loses points on: q2
# Divides by ‖∇L‖_p instead of the dual norm ‖∇L‖_q: right only for p = 2.
def minimal_step(grad, value, p):
    budget = value.clamp_min(0) / grad.norm(p=p, dim=1).clamp_min(1e-300)
    return gnii_step(grad, budget, p)
