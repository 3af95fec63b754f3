#!/usr/bin/env bash
# One command: set up everything, start Skiff (server + embedded store), and run a
# demo task you can watch: its IP address, its output and its cost. The server
# keeps running in the foreground afterwards; Ctrl-C stops it (tasks keep running
# and are adopted on the next start).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

DATA_DIR="${SKIFF_DATA_DIR:-/var/lib/skiff}"
PORT="${SKIFF_PORT:-8080}"
REGISTRY_PORT="${SKIFF_DEMO_REGISTRY_PORT:-5000}"
ENDPOINT="http://127.0.0.1:${PORT}"
# Every API call is signed (SigV4). The server's root key is the demo's key: the
# operator sets it with SKIFF_ROOT_ACCESS_KEY_ID / SKIFF_ROOT_SECRET_ACCESS_KEY.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-skiff-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-skiff-local-secret}" AWS_DEFAULT_REGION=us-east-1
export SKIFF_ROOT_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" SKIFF_ROOT_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
AWS=(/usr/bin/aws --endpoint-url "$ENDPOINT" --output json)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. A registry on loopback holding a demo image built from Debian's static busybox.
if ! curl -fsS "http://127.0.0.1:${REGISTRY_PORT}/v2/" >/dev/null 2>&1; then
  mkdir -p "$DATA_DIR/demo-registry"
  cat > "$DATA_DIR/demo-registry/config.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $DATA_DIR/demo-registry/data
http:
  addr: 127.0.0.1:${REGISTRY_PORT}
YML
  docker-registry serve "$DATA_DIR/demo-registry/config.yml" >"$DATA_DIR/demo-registry/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:${REGISTRY_PORT}/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
fi
node --import tsx scripts/push-demo-image.ts "127.0.0.1:${REGISTRY_PORT}/demo/busybox:latest"

# 2. The server, with its state in SQLite inside the data dir.
node bin/skiff.js server --data-dir "$DATA_DIR" --port "$PORT" &
server=$!
pids+=($server)
for _ in $(seq 100); do curl -fsS "$ENDPOINT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# 3. The demo task, driven with the AWS CLI exactly as against ECS.
cat > /tmp/skiff-demo-taskdef.json <<JSON
{
  "family": "hello",
  "requiresCompatibilities": ["FARGATE"],
  "networkMode": "awsvpc",
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [{
    "name": "hello",
    "image": "127.0.0.1:${REGISTRY_PORT}/demo/busybox:latest",
    "essential": true,
    "command": ["sh", "-c", "echo \"hello from \$(hostname), my address is \$(ip -4 -o addr show eth0 | awk '{print \$4}')\"; echo my limits: cpu quota \$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us), memory \$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) bytes; sleep 3; echo bye"]
  }]
}
JSON
"${AWS[@]}" ecs register-task-definition --cli-input-json file:///tmp/skiff-demo-taskdef.json >/dev/null
task_arn=$("${AWS[@]}" ecs run-task --task-definition hello --query 'tasks[0].taskArn' --output text)
echo "demo: started task $task_arn"
"${AWS[@]}" ecs wait tasks-running --tasks "$task_arn" 2>/dev/null || true
echo "demo: its address: $("${AWS[@]}" ecs describe-tasks --tasks "$task_arn" --query 'tasks[0].attachments[0].details[?name==`privateIPv4Address`].value' --output text)"
"${AWS[@]}" ecs wait tasks-stopped --tasks "$task_arn"
echo "demo: its output (skiff logs):"
node bin/skiff.js --endpoint "$ENDPOINT" logs "$task_arn"
echo "demo: its state, start-up phases and cost (skiff task):"
node bin/skiff.js --endpoint "$ENDPOINT" task "$task_arn"
echo
echo "Skiff is running at $ENDPOINT. Try: aws ecs list-tasks --desired-status STOPPED --endpoint-url $ENDPOINT"
echo "Ctrl-C stops the server."
wait "$server"
