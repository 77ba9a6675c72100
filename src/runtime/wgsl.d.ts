// WGSL files are imported as text: esbuild's text loader in the browser bundle, a Vite
// plugin under vitest, and tools/wgsl-hook.js under Node.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
