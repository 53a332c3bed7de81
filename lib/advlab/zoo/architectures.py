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


def nin(num_classes: int = 10, dropout: float = 0.5) -> nn.Sequential:
    """Network In Network (Lin et al. 2014) for CIFAR-10 (Convex chapter; the paper names the architecture only).

    Its common CIFAR-10 form (the authors' Caffe model-zoo NIN): three mlpconv blocks, conv 5×5 192 →
    1×1 160 → 1×1 96, conv 5×5 192 → 1×1 192 → 1×1 192, conv 3×3 192 → 1×1 192 → 1×1 classes, every
    conv followed by a ReLU (the class maps too, so the outputs are ≥ 0), "same" padding; 3×3 stride-2
    max pooling after the first block and average pooling after the second (ceil mode: 32 → 16 → 8, as
    Caffe), dropout 0.5 after both, global average pooling of the class maps. Weights N(0, 0.05²) and
    zero biases, as that Caffe model: with He-normal weights, SGD at lr 0.1 (or 0.01) left every class
    map dead within 20 steps (loss stuck at ln 10; seed 0, batch 128), with these it learns.
    """
    layers: list[nn.Module] = []
    cin = 3
    blocks = (((192, 5), (160, 1), (96, 1)), ((192, 5), (192, 1), (192, 1)), ((192, 3), (192, 1), (num_classes, 1)))
    pools = (nn.MaxPool2d(3, 2, ceil_mode=True), nn.AvgPool2d(3, 2, ceil_mode=True))
    for index, block in enumerate(blocks):
        for cout, kernel in block:
            layers += [nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU()]
            cin = cout
        if index < len(pools):
            layers += [pools[index], nn.Dropout(dropout)]
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.normal_(module.weight, std=0.05)
            nn.init.zeros_(module.bias)
    return net


class _DenseLayer(nn.Module):
    """BN-ReLU-conv 3×3 giving ``growth`` new maps, concatenated to the input (Huang et al. 2017, Eq. 2)."""

    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.bn, self.conv = nn.BatchNorm2d(cin), nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(torch.relu(self.bn(x))), x], 1)


def densenet(depth: int = 40, growth: int = 12, num_classes: int = 10) -> nn.Sequential:
    """DenseNet (Huang et al. 2017) for 32×32 inputs as in the code the Convex paper used (tensorpack's
    CIFAR-10 DenseNet example, depth 40, growth 12: ~1.0 M parameters; 5.2 % test error in the paper's Table I).

    Conv 3×3 to 16 maps; three dense blocks of (depth − 4)/3 ``_DenseLayer``s (no bottleneck, no
    compression) separated by transitions BN-ReLU-conv 1×1-ReLU-avgpool 2 (the code's 1×1 conv has a
    ReLU); then BN-ReLU, global average pooling and a linear layer. Convs are bias-free with He-normal
    weights (fan-out, the code's std √(2/(9·growth)) for the 3×3 convs). The code feeds 255·(x − mean
    image)/128; the zoo's ``normalized`` uses the per-channel mean and std instead.
    """
    if depth < 7 or (depth - 4) % 3:
        raise ValueError(f"DenseNet depth must be 3n+4 with n >= 1, got {depth}")
    layers_per_block = (depth - 4) // 3
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, padding=1, bias=False)]
    cin = 16
    for block in range(3):
        for _ in range(layers_per_block):
            layers.append(_DenseLayer(cin, growth))
            cin += growth
        if block < 2:
            layers += [nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cin, 1, bias=False), nn.ReLU(), nn.AvgPool2d(2)]
    net = nn.Sequential(*layers, nn.BatchNorm2d(cin), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(cin, num_classes))
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return net


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
