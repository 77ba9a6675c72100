// Debian's Chromium (never a downloaded browser), headless, with WebGPU on SwiftShader (no
// shader-f16, subgroup size 4). Shared by vitest's `browser` project and the page tests.
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
