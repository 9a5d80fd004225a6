"""NT-Xent with negatives gathered across processes equals the loss of the global batch."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dacl.core.losses import NTXentLoss

WORLD, N, K = 2, 6, 5


def _worker(rank, init_file, results):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(WORLD * N, K, generator=g)
    z2 = torch.randn(WORLD * N, K, generator=g)
    local1 = z1[rank * N : (rank + 1) * N].clone().requires_grad_(True)
    local2 = z2[rank * N : (rank + 1) * N].clone()
    loss = NTXentLoss(0.5, gather_distributed=True)(local1, local2)
    loss.backward()
    results[rank] = (loss.item(), local1.grad.clone())
    dist.destroy_process_group()


def test_gathered_loss_averages_to_the_global_batch_loss(tmp_path):
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_worker, args=(str(tmp_path / "init"), results), nprocs=WORLD, join=True)
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(WORLD * N, K, generator=g).requires_grad_(True)
    z2 = torch.randn(WORLD * N, K, generator=g)
    expected = NTXentLoss(0.5)(z1, z2)
    expected.backward()
    mean = sum(results[r][0] for r in range(WORLD)) / WORLD
    assert abs(mean - expected.item()) < 1e-5
    # gradients flow back through the gather: rank r's rows receive the gradient of every rank's
    # loss, so divided by WORLD (DDP's averaging) they equal the global loss's gradient
    for r in range(WORLD):
        assert torch.allclose(results[r][1] / WORLD, z1.grad[r * N : (r + 1) * N], atol=1e-6)
