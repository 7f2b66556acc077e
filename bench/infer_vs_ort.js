// ResNet-18/34 inference, memlev vs onnxruntime (the onnxruntime-node package), side by side
// in one run on the same ONNX file: the built-in architecture with seeded random weights,
// written by build/bench_arch_onnx, run by onnxruntime (intraOpNumThreads = threads,
// interOpNumThreads 1, sequential execution, default graph optimisations) and by memlev
// (build/bench_infer_onnx). The two alternate in --rounds slices so that load from other
// processes falls on both alike. Prints img/s, the ratio memlev/onnxruntime, images per
// CPU-second of each process, the CPU's instruction set and the 1-min load average.
// --spin on (default) runs both engines as they come: their worker threads busy-wait
// between parallel sections. --spin off makes both wait passively, the same way: memlev
// with OMP_WAIT_POLICY=passive (the OpenMP runtime's standard setting), onnxruntime with the
// session option session.intra_op.allow_spinning = 0. On a machine shared with other work
// a spinning thread burns the time slice its partner needs.
//
// usage: node bench/infer_vs_ort.js --peers DIR [--build build] [--arch resnet18,resnet34]
//        [--seconds 12] [--rounds 3] [--batch 64] [--threads 2] [--spin on|off] [--json out.json]
// DIR holds node_modules/onnxruntime-node (see bench/infer_vs_ort.sh; nothing is installed here).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

function args() {
  const a = { peers: null, build: path.join(__dirname, '..', 'build'), arch: 'resnet18,resnet34', seconds: 12,
              rounds: 3, batch: 64, threads: 2, spin: 'on', json: null };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i].replace(/^--/, '');
    if (!(k in a) || i + 1 >= v.length) throw new Error(`unknown or incomplete option ${v[i]}`);
    a[k] = typeof a[k] === 'number' ? Number(v[i + 1]) : v[i + 1];
  }
  if (a.spin !== 'on' && a.spin !== 'off') throw new Error(`--spin must be on or off, not ${a.spin}`);
  if (!a.peers) throw new Error('--peers DIR is required (see bench/infer_vs_ort.sh)');
  return a;
}

// The widest x86 vector extension the CPU reports, and its model name.
function isa() {
  let flags = '', model = os.cpus()[0] ? os.cpus()[0].model : '?';
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:\s*(.*)$/m);
    if (m) flags = ' ' + m[1] + ' ';
  } catch (e) { /* not Linux */ }
  const has = (f) => flags.includes(' ' + f + ' ');
  const name = has('avx512f') ? 'AVX-512' + (has('avx512_bf16') ? ' (+BF16)' : '') + (has('amx_tile') ? ' (+AMX)' : '')
    : has('avx2') ? 'AVX2' : has('sse4_2') ? 'SSE4.2' : process.arch;
  return `${name}, ${model}`;
}

const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

// One onnxruntime slice: [images per wall second, images per CPU second].
async function ortSlice(sess, feeds, batch, seconds) {
  let n = 0;
  const t0 = process.hrtime.bigint(), c0 = cpuSeconds();
  let t = 0;
  while (n < 3 || t < seconds) {
    await sess.run(feeds);
    n++;
    t = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  return [n * batch / t, n * batch / (cpuSeconds() - c0)];
}

async function main() {
  const a = args();
  const ort = require(path.join(path.resolve(a.peers), 'node_modules', 'onnxruntime-node'));
  const ortVersion = require(path.join(path.resolve(a.peers), 'node_modules', 'onnxruntime-node', 'package.json')).version;
  const mk = path.join(a.build, 'bench_arch_onnx'), run = path.join(a.build, 'bench_infer_onnx');
  for (const e of [mk, run])
    if (!fs.existsSync(e)) throw new Error(`${e} not found: build first (cmake --build ${a.build})`);
  console.log(`onnxruntime-node ${ortVersion} (intra-op ${a.threads}, inter-op 1)  memlev ${a.threads} threads  ` +
              `batch ${a.batch}  ${a.seconds} s per engine in ${a.rounds} slices  spin ${a.spin}  ISA ${isa()}`);
  console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(['model', 'ort img/s', 'memlev img/s', 'ratio', 'ort/c', 'memlev/c', 'load', '  memlev engine'].map((s, i) =>
    i ? s.padStart(13) : s.padEnd(9)).join(''));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memlev-ort-'));
  const rows = [];
  const env = a.spin === 'off' ? { ...process.env, OMP_WAIT_POLICY: 'passive' } : process.env;
  try {
    for (const arch of a.arch.split(',')) {
      const file = path.join(tmp, arch + '.onnx');
      execFileSync(mk, [arch, file]);
      const sess = await ort.InferenceSession.create(file, {
        intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        ...(a.spin === 'off' ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}) });
      const x = new Float32Array(a.batch * 28 * 28);
      for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) % 4294967296) / 4294967296;
      const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', x, [a.batch, 1, 28, 28]) };
      await sess.run(feeds); await sess.run(feeds); // warm-up
      const o = [], oc = [], m = [], mc = [];
      let engine = '?';
      const slice = a.seconds / a.rounds;
      for (let r = 0; r < a.rounds; r++) {
        const [ips, ipc] = await ortSlice(sess, feeds, a.batch, slice);
        o.push(ips); oc.push(ipc);
        const out = execFileSync(run, [file, String(a.batch), String(a.threads), String(slice)],
                                 { encoding: 'utf8', env }).trim().split('\n');
        const j = JSON.parse(out[out.length - 1]);
        m.push(j.images_per_s); mc.push(j.images_per_cpu_s); engine = j.engine || '?';
      }
      await sess.release();
      const mean = (v) => v.reduce((s, x) => s + x, 0) / v.length;
      const row = { arch, batch: a.batch, threads: a.threads, spin: a.spin, ort_version: ortVersion,
                    ort_images_per_s: mean(o), memlev_images_per_s: mean(m), ratio: mean(m) / mean(o),
                    ort_rounds: o, memlev_rounds: m, ort_images_per_cpu_s: mean(oc),
                    memlev_images_per_cpu_s: mean(mc), load_average: os.loadavg()[0], isa: isa(), memlev_engine: engine };
      rows.push(row);
      console.log(arch.padEnd(9) + [row.ort_images_per_s.toFixed(1), row.memlev_images_per_s.toFixed(1),
        row.ratio.toFixed(2), row.ort_images_per_cpu_s.toFixed(1), row.memlev_images_per_cpu_s.toFixed(1),
        row.load_average.toFixed(1)].map((s) => s.padStart(13)).join('') + '  ' + engine);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (a.json) {
    fs.writeFileSync(a.json + '.tmp', JSON.stringify(rows, null, 1));
    fs.renameSync(a.json + '.tmp', a.json);
  }
}

main().catch((e) => { console.error(`infer_vs_ort: ${e.message}`); process.exit(2); });
