import json

from dacl.cli import main
from dacl.studies.bench import BenchSetup, model_flops_per_sample, run_bench


def test_model_flops_count_linear_layers_and_similarity():
    setup = BenchSetup(in_features=4, width=8, depth=2, head_depth=2, projection_dim=3)
    first, rest = 4 * 8, 8 * 8 + 8 * 8 + 8 * 3  # encoder 4->8->8, head 8->8->3
    # two views: forward (2 FLOPs a multiply-add), backward 2x forward except the first layer's
    # missing input gradient; similarity of 2N = 20 views with K = 3, forward and backward
    assert model_flops_per_sample(setup, 10) == 2 * (2 * first * 2 + 2 * rest * 3) + 3 * (2 * 20 * 3 * 2)


def test_bench_on_a_tiny_model(tmp_path):
    setup = BenchSetup(in_features=16, width=32, depth=2, steps=2, repeats=2)
    report = run_bench(tmp_path, setup, batch_sizes=(32,), precisions=("float32",), roofline_size=128)
    row = report["rows"][0]
    for key in ("samples_per_s", "model_flops_per_s", "roofline_fraction", "speedup_vs_straightforward",
                "noise_share", "loss_share", "loss_speedup_vs_cross_entropy", "peak_rss_mb"):  # fmt: skip
        assert row[key] > 0, key
    assert len(row["samples_per_s_runs"]) == len(row["straightforward_samples_per_s_runs"]) == 2
    assert row["samples_per_s"] == max(row["samples_per_s_runs"])
    assert json.loads((tmp_path / "bench.json").read_text())["rows"][0]["batch_size"] == 32


def test_cli_bench(tmp_path, capsys):
    assert main(["bench", "--out", str(tmp_path), "--batch-sizes", "16", "--precisions", "float32", "--width", "16",
                 "--depth", "1", "--in-features", "8", "--steps", "2", "--repeats", "1"]) == 0  # fmt: skip
    assert "samples/s" in capsys.readouterr().out and (tmp_path / "bench.md").is_file()


def test_image_bench_times_both_steps_and_the_augmentation_share(tmp_path, capsys):
    from dacl.cli import main
    from dacl.studies.bench_images import ImageBenchSetup, image_bench_table, run_image_bench

    setup = ImageBenchSetup(resnet_width=1 / 16, side=8, batch_size=16, steps=2, workers=0, repeats=1,
                            precision="float32")  # fmt: skip
    report = run_image_bench(setup)
    assert report["dacl_samples_per_s"] > 0 and report["straightforward_samples_per_s"] > 0
    assert report["ratio"] == report["dacl_samples_per_s"] / report["straightforward_samples_per_s"]
    assert report["augment_share"] > 0 and report["precision"] == "float32"
    assert "| dacl (engine" in image_bench_table(report)
    assert main(["bench", "--domain", "images", "--resnet-width", "0.0625", "--image-size", "8", "--batch-sizes",
                 "16", "--steps", "2", "--repeats", "1", "--workers", "1", "--out", str(tmp_path)]) == 0  # fmt: skip
    assert (tmp_path / "bench-images.json").is_file() and "straightforward" in capsys.readouterr().out
