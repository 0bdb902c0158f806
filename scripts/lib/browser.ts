/**
 * A headless Chromium for the page tests and the screenshot script: the binary @sparticuz/chromium
 * carries inside its npm package (unpacked to the temp folder on first use), driven by playwright-core,
 * so nothing is downloaded at install or test time.
 */
import chromium from "@sparticuz/chromium";
import { chromium as playwright, type Browser } from "playwright-core";

/**
 * chromium.args are tuned for AWS Lambda; these would make the tests lie or flake: single-process dies
 * with its first closed context, and the web-security switches would hide what a real browser blocks.
 */
const DROPPED = new Set(["--single-process", "--disable-web-security", "--allow-running-insecure-content", "--disable-site-isolation-trials"]);

export async function launchBrowser(): Promise<Browser> {
  // No GPU here or in CI; the pages need no WebGL.
  chromium.setGraphicsMode = false;
  const args = chromium.args.filter((a) => !DROPPED.has(a));
  return playwright.launch({ args, executablePath: await chromium.executablePath(), headless: true });
}
