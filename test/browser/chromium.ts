// Drives the web page in Chromium from Node (vitest's `e2e` project).
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { describe } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium-flags.ts';

export const haveChromium = existsSync(CHROMIUM);
/** describe() for tests that drive Chromium: a visible skip when it is not installed. */
export const describeChromium = haveChromium ? describe : describe.skip;
if (!haveChromium) console.warn(`${CHROMIUM} not found: browser page tests are skipped (npm test installs Debian's chromium, or set CHROMIUM_PATH)`);

export interface Session {
  page: Page;
  /** Browser console lines and page errors, for failure messages. */
  log: string[];
  close(): Promise<void>;
}

/** One browser per test file (playwright gives it a fresh temporary profile); close it in afterAll. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A fresh context (no shared storage between tests) with one page. */
export async function openPage(browser: Browser): Promise<Session> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const log: string[] = [];
  page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  return { page, log, close: () => context.close() };
}

/** Builds the page (web/build.ts) and serves it at / with `mounts` beside it, on 127.0.0.1. */
export async function servePage(mounts: Record<string, string> = {}): Promise<{ url: string; close(): void }> {
  const [{ buildWeb }, { serve }] = await Promise.all([import('../../web/build.ts'), import('../../tools/serve.ts')]);
  await buildWeb();
  const server = await serve({ '/': fileURLToPath(new URL('../../web/', import.meta.url)), ...mounts });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}
