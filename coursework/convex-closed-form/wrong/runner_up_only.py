# loses points on: q3
# Only the runner-up class: its boundary is not always the closest in L∞.
def minimal_linf_distance(weight, bias, x):
    logits = x @ weight.T + bias
    top = logits.topk(2, dim=1).indices
    k, l = top[:, 0], top[:, 1]
    margin = logits.gather(1, k[:, None]).squeeze(1) - logits.gather(1, l[:, None]).squeeze(1)
    return margin / (weight[k] - weight[l]).abs().sum(1)
