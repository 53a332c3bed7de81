"""The papers' network architectures. Every model takes inputs in [0,1] and normalises inside itself."""

from __future__ import annotations

import torch
from torch import nn

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN, CIFAR10_STD = (0.491, 0.482, 0.447), (0.247, 0.243, 0.262)  # DDN's CIFAR-10 script


class Normalize(nn.Module):
    """(x − mean) / std per channel, so that attacks work on [0,1] pixels (adv_lib convention)."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def cw_cnn(in_channels: int = 1, image_size: int = 28, convs=(32, 32, 64, 64), fcs=(200, 200),
           num_classes: int = 10, dropout: float = 0.5) -> nn.Sequential:
    """The Carlini & Wagner (2017) network: conv-conv-pool-conv-conv-pool, two FC layers, dropout.

    MNIST: convs (32, 32, 64, 64), FC (200, 200) — the DDN paper's MNIST model ("same as C&W",
    chapter ddn) and EAD's MNIST model (chapter ead). CIFAR-10: convs (64, 64, 128, 128), FC (256, 256).
    3×3 kernels, valid padding, max-pool 2, dropout before the last FC layer (the layout of EAD's
    official code; the EAD paper cites C&W's networks without listing them).
    """
    c1, c2, c3, c4 = convs
    side = ((image_size - 4) // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3), nn.ReLU(), nn.Conv2d(c1, c2, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3), nn.ReLU(), nn.Conv2d(c3, c4, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c4 * side * side, fcs[0]), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(fcs[0], fcs[1]), nn.ReLU(),
        nn.Linear(fcs[1], num_classes),
    )


def lenet5(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5 for 28×28 MNIST (Convex chapter): conv6 5×5 (padding 2)-pool-conv16 5×5-pool-FC120-84.

    The Convex paper names the architecture only; ReLU and max-pooling are our choice.
    """
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),
    )


def fcnn(in_features: int = 784, hidden=(150, 100), num_classes: int = 10) -> nn.Sequential:
    """Fully connected MNIST network with hidden layers of 150 and 100 ReLU units (Convex, Table I)."""
    layers: list[nn.Module] = [nn.Flatten()]
    for width in hidden:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    return nn.Sequential(*layers, nn.Linear(in_features, num_classes))


class _WideBasic(nn.Module):
    """Pre-activation wide residual block (Zagoruyko & Komodakis 2016)."""

    def __init__(self, cin: int, cout: int, stride: int, dropout: float):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride, bias=False)
                         if stride != 1 or cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.dropout(torch.relu(self.bn2(out))))
        return out + skip


def wide_resnet(depth: int = 28, widen: int = 10, num_classes: int = 10, dropout: float = 0.3) -> nn.Sequential:
    """WRN-depth-widen for 32×32 inputs: the DDN paper's CIFAR-10 model is WRN-28-10 (dropout 0.3)."""
    if (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n+4, got {depth}")
    blocks_per_group = (depth - 4) // 6
    widths = [16, 16 * widen, 32 * widen, 64 * widen]
    layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)]
    cin = widths[0]
    for group, cout in enumerate(widths[1:]):
        for block in range(blocks_per_group):
            layers.append(_WideBasic(cin, cout, 2 if group and not block else 1, dropout))
            cin = cout
    layers += [nn.BatchNorm2d(cin), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def normalized(net: nn.Module, dataset: str) -> nn.Sequential:
    """Prepend the dataset's normalisation, so the model's input is [0,1] pixels."""
    mean, std = {"mnist": (MNIST_MEAN, MNIST_STD), "cifar10": (CIFAR10_MEAN, CIFAR10_STD)}[dataset]
    return nn.Sequential(Normalize(mean, std), net)


def convpool_cnn(in_channels: int = 3, num_classes: int = 10, width: int = 64) -> nn.Sequential:
    """The PGN paper's ConvPool-CNN (Table 1): three blocks of two 3×3 convs (width·2^s, width·2^(s+1))
    and a 2×2 average pool, a 3×3 conv to the classes, global average pooling (chapter pgn).

    Leaky-ReLU 0.2, "same" padding, no batch norm, no dropout (the official code; Table 1 lists only
    the layers); ``width`` is the code's model-size multiplier (64 in the paper; the right panels of Figs. 5 and 7 vary it).
    """
    layers: list[nn.Module] = []
    cin = in_channels
    for stage in range(3):
        for cout in (width * 2 ** stage, width * 2 ** (stage + 1)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2)]
            cin = cout
        layers.append(nn.AvgPool2d(2))
    layers += [nn.Conv2d(cin, num_classes, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    net = nn.Sequential(*layers)
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, a=0.2)
            nn.init.zeros_(module.bias)
    return net
