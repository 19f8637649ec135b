"""weft's PyTorch training worker: the model, attention, feed client, loop and checkpoints.

Started by `weft train` (one process per rank, torch.distributed env vars set); it reads its packs
from the TypeScript feed and never decides data order itself.
"""
