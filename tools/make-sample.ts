// Draws assets/sample.png, the demo's bundled input: a small outdoor scene with clear depth
// ordering (sky, hills, a road into the distance, a house, trees, a person, a ball) so every
// task has something to find. Procedural SVG, rendered by sharp; run with `npx tsx tools/make-sample.ts`.
import sharp from 'sharp';
import { Rng } from '../src/runtime/random.ts';

const W = 768;
const H = 512;
const rng = new Rng(7);

function tree(x: number, base: number, s: number): string {
  return `<rect x="${x - 4 * s}" y="${base - 40 * s}" width="${8 * s}" height="${40 * s}" fill="#6b4423"/>
  <ellipse cx="${x}" cy="${base - 60 * s}" rx="${26 * s}" ry="${34 * s}" fill="url(#leaf)"/>`;
}

// Grass blades give the ground texture that fades with distance.
const blades = Array.from({ length: 220 }, () => {
  const y = 300 + rng.uniform() * 212;
  const x = rng.uniform() * W;
  const h = 2 + (y - 300) * 0.05;
  return `<line x1="${x.toFixed(1)}" y1="${y.toFixed(1)}" x2="${(x + rng.uniform() * 2 - 1).toFixed(1)}" y2="${(y - h).toFixed(1)}" stroke="#2f6b2a" stroke-width="${(0.5 + (y - 300) / 200).toFixed(2)}"/>`;
}).join('');

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#5b9bd5"/><stop offset="1" stop-color="#dcebf7"/></linearGradient>
    <linearGradient id="grass" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#8fbf6a"/><stop offset="1" stop-color="#3f7f2f"/></linearGradient>
    <linearGradient id="road" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#9a9a9a"/><stop offset="1" stop-color="#4a4a4a"/></linearGradient>
    <radialGradient id="leaf" cx="0.4" cy="0.35"><stop offset="0" stop-color="#5fae4a"/><stop offset="1" stop-color="#24562a"/></radialGradient>
    <radialGradient id="ball" cx="0.35" cy="0.35"><stop offset="0" stop-color="#ffd27a"/><stop offset="1" stop-color="#d9480f"/></radialGradient>
  </defs>
  <rect width="${W}" height="${H}" fill="url(#sky)"/>
  <circle cx="640" cy="80" r="34" fill="#fff3b0"/>
  <path d="M0 300 Q 120 230 260 280 T 520 270 T ${W} 260 V 320 H 0 Z" fill="#7fa88a"/>
  <rect y="300" width="${W}" height="${H - 300}" fill="url(#grass)"/>
  ${blades}
  <path d="M360 300 L 408 300 L 560 ${H} L 200 ${H} Z" fill="url(#road)"/>
  <path d="M383 304 L 385 304 L 392 ${H} L 376 ${H} Z" fill="#f2f2f2" opacity="0.8"/>
  <g><rect x="90" y="230" width="150" height="100" fill="#c8a27a"/><path d="M80 232 L 165 170 L 250 232 Z" fill="#8c3b2e"/>
    <rect x="150" y="280" width="30" height="50" fill="#5a3b22"/><rect x="105" y="250" width="30" height="24" fill="#cfe8ff"/><rect x="195" y="250" width="30" height="24" fill="#cfe8ff"/></g>
  ${tree(560, 310, 0.9)}${tree(610, 318, 1.1)}${tree(700, 350, 1.6)}${tree(40, 380, 2.2)}
  <g transform="translate(470 360)"><circle cx="0" cy="-70" r="11" fill="#e0ac82"/><rect x="-12" y="-58" width="24" height="40" rx="6" fill="#2e6fd8"/>
    <rect x="-11" y="-20" width="9" height="38" fill="#2b2b3a"/><rect x="2" y="-20" width="9" height="38" fill="#2b2b3a"/></g>
  <circle cx="300" cy="455" r="28" fill="url(#ball)"/>
</svg>`;

await sharp(Buffer.from(svg)).png({ compressionLevel: 9, palette: false }).toFile('assets/sample.png');
console.log('wrote assets/sample.png');
