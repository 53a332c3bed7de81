# loses points on: q2
# γ grows where the status changed and shrinks where it stayed: the opposite of Algorithm 2.
def gamma_update(gamma, adversarial, previous_adversarial, alpha_gamma, gamma_max):
    same = adversarial == previous_adversarial
    unbounded = torch.where(same, gamma * (1 - alpha_gamma), gamma * (1 + alpha_gamma))
    return unbounded.clamp(max=gamma_max), unbounded > gamma_max
