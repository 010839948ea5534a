#!/bin/bash
# Fine-tune on a GPU machine (JAX, no TensorFlow) in calls of under ten minutes, from the repo root
# with the shrunk train split in .carry/gpu-train/train and the keras wheels in .whl/ (README, GPU).
# With $INIT, a call starts a new run from those weights with $OPTIONS (a run left on a warm machine
# is dropped). Without it, a call resumes the warm machine's /tmp/run, or on a fresh machine the
# checkpoint whose parts ($CKPT.part*) were carried.
# $EPOCHS is the schedule's total (the learning rate's cosine decay spans it). The checkpoint comes
# back in parts of 15 MB (the device's files are at most 16 MiB each): cat last.npz.part* > last.npz.
set -u
t0=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1 JAX_COMPILATION_CACHE_DIR=/tmp/jax-cache
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc
# Pictures: .carry/gpu-train/train, plus .carry/gpu-train/extra (the corpus's training-only split)
# when a call carried it. The two exceed one call's 64 MiB, so a call may carry either: each is
# copied to /tmp/gpu-train, which a warm machine keeps, and a run trains on what is there.
mkdir -p /tmp/gpu-train
for part in train extra; do
  if [ -d .carry/gpu-train/$part ]; then rm -rf /tmp/gpu-train/$part; cp -r .carry/gpu-train/$part /tmp/gpu-train/; fi
done
DATA=(/tmp/gpu-train/train)
[ -d /tmp/gpu-train/extra ] && DATA+=(/tmp/gpu-train/extra)
echo "pictures: $(find "${DATA[@]}" -name "*.jpg" | wc -l) in ${DATA[*]}"
RUN=/tmp/run
if [ -n "${INIT:-}" ]; then
  echo "starting from $INIT"; rm -rf $RUN /tmp/run.log; args=("${DATA[@]}" --init-weights $INIT $OPTIONS)
elif [ -f $RUN/checkpoints/last.npz ]; then
  echo "resuming the warm machine's run"; args=(--resume)
else
  echo "fresh machine: resuming from ${CKPT:?set INIT, or CKPT to carried checkpoint parts}"
  mkdir -p $RUN/checkpoints && cat $CKPT.part* > $RUN/checkpoints/last.npz; args=(--resume)
fi
left=$(( ${DEADLINE:-560} - ($(date +%s) - t0) ))
echo "training for at most $left s"
timeout -s INT -k 40 $left python3 -m trainer.cli fit "${args[@]}" --out $RUN --epochs $EPOCHS \
  --workers 15 --checkpoint-minutes 1 >> /tmp/run.log 2>&1
echo "fit rc=$? after $(( $(date +%s) - t0 )) s"
# The log without Keras's progress bars: colour codes dropped, one line per finished epoch kept.
tr '\r\b' '\n\n' < /tmp/run.log | sed 's/\x1b\[[0-9;]*m//g' | awk '{
  if (match($0, /^ *[0-9]+\/[0-9]+ /)) { split($1, f, "/"); if (f[1] != f[2]) next }
  if (NF) print }' > $OUT/run.log
grep -E -i "error|look-alike|resuming|checkpoint|Traceback" $OUT/run.log | tail -8
grep -E "/step" $OUT/run.log | tail -3
tail -5 $RUN/history.csv
split -b 15M $RUN/checkpoints/last.npz $OUT/last.npz.part
cp $RUN/history.csv $OUT/
ls -la $OUT
