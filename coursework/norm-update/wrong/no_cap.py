# loses points on: q1
# The norm update without the cap at worst_norm: right wherever the cap does not bind.
def norm_update(eps, adversarial, gamma, worst_norm):
    return torch.where(adversarial, eps * (1 - gamma), eps * (1 + gamma))
