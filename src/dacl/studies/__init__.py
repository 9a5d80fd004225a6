"""The research harness: the label study (``label_study``), experiments and their reports (``experiment``,
``report``), stored runs (``runs``), the paper's reproductions (``reproduce``) and the benchmarks
(``bench``, ``bench_images``). It reads the library as a user does; the library never imports it
(tests/test_layers.py)."""
