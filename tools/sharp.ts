// sharp for the commands that write or inspect images, loaded on first use: the GPU pack's
// bundled CLI carries no native modules, and commands that never touch an image must start
// without it. (The library's own decoder keeps a private loader, so the shipped types never
// name sharp's.)
export const loadSharp = async () => (await import('sharp')).default;
