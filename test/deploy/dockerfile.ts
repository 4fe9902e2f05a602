// The Dockerfile as stages of instructions (parsed by dockerfile-ast), and the build context its
// .dockerignore leaves: what the Dockerfile checks and scripts/check-dockerfile.ts read.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ROOT } from './compose-file';

export const DOCKERFILE_PATH = join(ROOT, 'Dockerfile');

export interface Step {
  keyword: string;
  /** Line in the Dockerfile, 1-based, for messages. */
  line: number;
  /** Arguments as written, flags (`--from=…`) excluded; continuation lines joined. */
  text: string;
  /** Flags such as --from, --chown, --interval: name → value. */
  flags: Record<string, string | null>;
  /** The exec form's strings (`CMD ["node", "x.js"]`), or null for the shell form. */
  exec: string[] | null;
}

export interface Stage {
  name: string | null;
  image: { name: string; tag: string | null; digest: string | null; text: string };
  steps: Step[];
}

function stepOf(ins: Instruction): Step {
  const withFlags = ins as Instruction & {
    getFlags?: () => { getName(): string; getValue(): string | null }[];
  };
  const flags = Object.fromEntries((withFlags.getFlags?.() ?? []).map((f) => [f.getName(), f.getValue()]));
  // The arguments' text without the flags, continuation lines joined (as the builder sees it).
  const text = ins
    .getArguments()
    .map((a) => a.getValue())
    .join(' ');
  const jsonText = text.replace(/^CMD\s+/, '');
  let exec: string[] | null = null;
  if (jsonText.startsWith('[')) {
    try {
      const parsed = JSON.parse(jsonText) as unknown;
      if (Array.isArray(parsed) && parsed.every((s) => typeof s === 'string')) exec = parsed;
    } catch {
      exec = null;
    }
  }
  return { keyword: ins.getKeyword(), line: ins.getRange().start.line + 1, text, flags, exec };
}

export function loadDockerfile(path = DOCKERFILE_PATH): Stage[] {
  const parsed = DockerfileParser.parse(readFileSync(path, 'utf8'));
  const stages: Stage[] = [];
  for (const ins of parsed.getInstructions()) {
    const step = stepOf(ins);
    if (step.keyword === 'FROM') {
      const from = parsed.getFROMs().find((f) => f.getRange().start.line === ins.getRange().start.line);
      if (!from) throw new Error(`FROM at line ${step.line} not parsed`);
      stages.push({
        name: from.getBuildStage(),
        image: {
          name: from.getImageName() ?? '',
          tag: from.getImageTag(),
          digest: from.getImageDigest(),
          text: from.getImage() ?? '',
        },
        steps: [],
      });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${step.keyword} at line ${step.line} before any FROM`);
      stage.steps.push(step);
    }
  }
  return stages;
}

/** COPY/ADD sources (all but the last argument) and destination, flags excluded. */
export function copyParts(step: Step): { sources: string[]; dest: string } {
  const args = step.exec ?? step.text.split(/\s+/).filter(Boolean);
  return { sources: args.slice(0, -1), dest: args.at(-1) ?? '' };
}

/** .dockerignore patterns → a predicate "is this context path excluded" (last matching pattern wins, `!` re-includes). */
export function dockerignore(root = ROOT): (path: string) => boolean {
  const file = join(root, '.dockerignore');
  const rules = (existsSync(file) ? readFileSync(file, 'utf8') : '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      return { negate, regex: globToRegex(pattern) };
    });
  return (path) => {
    const parts = path.replace(/^\.\/|\/$/g, '').split('/');
    let excluded = false;
    for (const rule of rules) {
      // A pattern matching a parent directory excludes everything under it.
      for (let i = 1; i <= parts.length; i++)
        if (rule.regex.test(parts.slice(0, i).join('/'))) {
          excluded = !rule.negate;
          break;
        }
    }
    return excluded;
  };
}

/** Go filepath.Match syntax plus `**` (any number of directories), as Docker's builder reads it. */
function globToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      i++;
      // `**/` is any number of directories, none included.
      if (pattern[i + 1] === '/') {
        re += '(?:.*/)?';
        i++;
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
