# Sourced by the GPU scripts beside it: $OUT (default ./gpu-out), the package on PYTHONPATH,
# unbuffered output, and `stage NAME`, which writes a timed heading into $OUT/log.txt.
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
log="$OUT/log.txt"
stage() { echo "=== $(date -u +%T) $*" | tee -a "$log"; }
