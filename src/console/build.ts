// Builds the browser console (src/console/app) with esbuild: one script, one stylesheet, one page.
// `npm run build` writes them to dist/console/; the API from the TypeScript sources builds them in memory.
import { readFile, stat, readdir, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The console's sources (browser TypeScript, HTML, CSS). */
export const CONSOLE_SOURCES = resolve(__dirname, '../../src/console/app');

/** Every file the console consists of, by the name it is served under /console/. */
export const CONSOLE_FILES = ['index.html', 'console.js', 'console.css'] as const;
export type ConsoleFile = (typeof CONSOLE_FILES)[number];
export type ConsoleAssets = ReadonlyMap<ConsoleFile, Buffer>;

/** Bundles the sources; esbuild is a build-time dependency, so it loads only when a build runs. */
export async function buildConsole(sources = CONSOLE_SOURCES): Promise<ConsoleAssets> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(sources, 'main.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2022'],
    platform: 'browser',
    write: false,
    outfile: 'console.js',
    logLevel: 'silent',
    legalComments: 'none',
  });
  const [html, css] = await Promise.all([
    readFile(join(sources, 'index.html')),
    readFile(join(sources, 'style.css')),
  ]);
  return new Map<ConsoleFile, Buffer>([
    ['index.html', html],
    ['console.js', Buffer.from(result.outputFiles[0].contents)],
    ['console.css', css],
  ]);
}

/** Latest modification time of the sources (ms), so a development server rebuilds after an edit. */
export async function sourcesVersion(sources = CONSOLE_SOURCES): Promise<number> {
  const names = await readdir(sources);
  const times = await Promise.all(names.map(async (n) => (await stat(join(sources, n))).mtimeMs));
  return Math.max(0, ...times);
}

/** Writes the built console into `outDir` (dist/console). */
export async function writeConsole(outDir: string, sources = CONSOLE_SOURCES): Promise<void> {
  const assets = await buildConsole(sources);
  await mkdir(outDir, { recursive: true });
  await Promise.all([...assets].map(([name, body]) => writeFile(join(outDir, name), body)));
}

if (require.main === module) {
  const outDir = resolve(process.argv[2] ?? resolve(__dirname, '../../dist/console'));
  writeConsole(outDir).then(
    () => process.stdout.write(`console: ${CONSOLE_FILES.join(', ')} in ${outDir}\n`),
    (err: unknown) => {
      process.stderr.write(`console build failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
