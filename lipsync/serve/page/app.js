// The preview page: a reference client of `lipsync serve` ("audio": "client").
// Each `speech` piece is played by Web Audio at its offset after the first; the mouth is
// drawn from the piece's keyframes at the AudioContext's own clock, so sound and mouth
// share one clock and network jitter cannot move them apart.
"use strict";

const $ = (id) => document.getElementById(id);
const socket = new WebSocket(`ws://${location.host}/lipsync`);
let ctx = null;          // the AudioContext, made on the first Speak
let pieces = [];         // {start, end, timeline, keyframes, shape} in ctx time
let base = null;         // ctx time of the current utterance's first sample
let queuedEnd = 0;       // ctx time the last scheduled piece ends
let current = null;      // id of the utterance playing
let sources = [];
let count = 0;

function status(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text || state;
}

socket.onopen = () => { status("idle"); $("speak").disabled = false; };
socket.onclose = () => { status("closed", "disconnected"); $("speak").disabled = true; };
socket.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.type === "hello") {
    for (const name of message.maps) $("map").add(new Option(name, name));
  } else if (message.type === "started") {
    status("speaking");
  } else if (message.type === "speech" && message.id === current) {
    play(message);
  } else if (message.type === "ended" && message.id === current) {
    const over = Math.max(queuedEnd, ctx.currentTime);
    const wait = () => {  // "ended" comes by the server's clock; ours may still be playing
      if (ctx.currentTime < over) { requestAnimationFrame(wait); return; }
      if (message.id === current) { current = null; status("idle"); $("stop").disabled = true; }
    };
    wait();
  } else if (message.type === "error") {
    status("error", message.message);
  }
};

function speak() {
  ctx = ctx || new AudioContext();
  ctx.resume();
  halt();
  current = `p${++count}`;
  const request = { type: "say", id: current, text: $("text").value, audio: "client", interrupt: true };
  if ($("map").value) request.map = $("map").value;
  socket.send(JSON.stringify(request));
  status("waiting");
  $("stop").disabled = false;
}

function halt() {
  for (const source of sources) source.stop();
  sources = []; pieces = []; base = null; queuedEnd = 0;
}

function play(message) {
  const bytes = Uint8Array.from(atob(message.pcm16), (c) => c.charCodeAt(0));
  const pcm = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
  if (pcm.length === 0) return;
  const buffer = ctx.createBuffer(1, pcm.length, message.sample_rate);
  const channel = buffer.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) channel[i] = pcm[i] / 32768;
  if (base === null) base = ctx.currentTime + 0.05;  // a little headroom to schedule exactly
  const start = Math.max(base + message.offset, queuedEnd, ctx.currentTime);
  const source = ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(ctx.destination);
  source.start(start);
  sources.push(source);
  queuedEnd = start + buffer.duration;
  pieces.push({ start, end: queuedEnd, timeline: message.timeline, keyframes: message.keyframes,
                shape: message.shape });
}

// The weight of one morph at `t` seconds into a piece: linear between keyframes.
function weightAt(keys, t) {
  if (!keys.length || t < keys[0][0] || t > keys[keys.length - 1][0]) return 0;
  for (let i = 1; i < keys.length; i++) {
    if (t <= keys[i][0]) {
      const [t0, w0] = keys[i - 1], [t1, w1] = keys[i];
      return t1 > t0 ? w0 + (w1 - w0) * (t - t0) / (t1 - t0) : w1;
    }
  }
  return 0;
}

// Openness and rounding: each morph's share (the server fits it from the map) times its weight.
function mouthAt(now) {
  let open = 0, round = 0, phoneme = "–";
  for (const piece of pieces) {
    const t = now - piece.start;
    if (t < 0) continue;
    for (const [name, from, to] of piece.timeline) if (t >= from && t < to) phoneme = name;
    for (const [morph, keys] of Object.entries(piece.keyframes)) {
      const w = weightAt(keys, t);
      const [o, r] = piece.shape[morph] || [0, 0];
      open += w * o; round += w * r;
    }
  }
  return { open: Math.min(Math.max(open, 0), 1), round: Math.min(Math.max(round, 0), 1), phoneme };
}

function draw() {
  const { open, round, phoneme } = ctx ? mouthAt(ctx.currentTime) : { open: 0, round: 0, phoneme: "–" };
  const width = 50 * (1 - 0.45 * round);
  $("inside").setAttribute("rx", width.toFixed(2));
  $("inside").setAttribute("ry", (40 * open).toFixed(2));
  $("lips").setAttribute("rx", (width + 2).toFixed(2));
  $("lips").setAttribute("ry", (2 + 40 * open).toFixed(2));
  $("mouth").dataset.open = open.toFixed(3);
  $("mouth").dataset.round = round.toFixed(3);
  $("phoneme").textContent = phoneme;
  requestAnimationFrame(draw);
}

$("speak").onclick = speak;
$("stop").onclick = () => { halt(); socket.send(JSON.stringify({ type: "stop" })); };
window.lipsync = { get ctx() { return ctx; }, speak, socket };  // for tests and the curious
requestAnimationFrame(draw);
