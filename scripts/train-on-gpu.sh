#!/bin/bash
# The run that trained the shipped model, on a GPU machine (JAX, no TensorFlow), from the repo root
# with the shrunk train split in .carry/gpu-train/train and the keras wheels in .whl/ (see the README):
# installs keras, probes the step time, sizes the epochs to TRAIN_SECONDS, trains, copies the
# checkpoint to $OUT. Continue a run with: dupfinder-train fit --out /tmp/run --resume --epochs N
# EXTRA adds fit options, e.g. to fine-tune the shipped model as its last CPU run did:
#   EXTRA="--init-weights resources/models/dupfinder-default.weights.npz --resize trim-stretch --neighbour-groups 4 --lr 5e-4"
set -u
t0=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc
DATA=$PWD/.carry/gpu-train/train
BATCH=${BATCH:-256}
timeout 150 python3 -m trainer.cli fit $DATA --out /tmp/probe --epochs 2 --steps-per-epoch 8 \
  --batch-size $BATCH --image-size 128 --loss infonce --workers 15 > /tmp/probe.log 2>&1
echo "probe rc=$? seconds=$(( $(date +%s) - t0 ))"
tr '\r' '\n' < /tmp/probe.log | grep -E "Error|error" | tail -5
ms=$(tr '\r' '\n' < /tmp/probe.log | grep -o "[0-9.]*m\?s/step" | tail -1)
echo "step time: $ms"; cat /tmp/probe/history.csv
TRAIN_SECONDS=${TRAIN_SECONDS:-300}
secs=$(python3 -c "import re,sys; t='$ms'; v=float(re.match(r'[0-9.]+',t).group()); print(v/1000 if 'ms' in t else v)")
steps=$(( $(ls $DATA | wc -l) * 95 / 100 / BATCH ))
epochs=$(python3 -c "print(max(3, int($TRAIN_SECONDS / ($secs * $steps + 1.5))))")
triplet=$(( epochs / 6 > 2 ? epochs / 6 : 2 ))
cmd="fit DATA --epochs $epochs --batch-size $BATCH --image-size 128 --loss infonce:$((epochs - triplet)),triplet --mining semi-hard --val-split 0.05 --workers 15 --checkpoint-minutes 1 ${EXTRA:-}"
echo "steps/epoch=$steps step=${secs}s -> $cmd"
echo "$cmd" > $OUT/command.txt
left=$(( ${DEADLINE:-545} - ($(date +%s) - t0) ))
timeout $left python3 -m trainer.cli fit $DATA --out /tmp/run --epochs $epochs --batch-size $BATCH \
  --image-size 128 --loss infonce:$((epochs - triplet)),triplet --mining semi-hard --val-split 0.05 \
  --workers 15 --checkpoint-minutes 1 ${EXTRA:-} > /tmp/run.log 2>&1
echo "train rc=$? total seconds=$(( $(date +%s) - t0 ))"
tr '\r' '\n' < /tmp/run.log | grep -E "Error|error|checkpoint" | tail -5
cp /tmp/run/checkpoints/last.npz /tmp/run/history.csv /tmp/run/data.json /tmp/run/heldout.txt $OUT/ 2>&1
tail -4 /tmp/run/history.csv
