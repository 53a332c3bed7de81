# loses points on: q3
# Soft-thresholding without the projection onto the box [0, 1].
def shrink(z, x0, beta):
    shift = z - x0
    return torch.where(shift > beta, z - beta, torch.where(shift < -beta, z + beta, x0))
