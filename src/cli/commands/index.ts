// Every subcommand of batchgw, in the order `batchgw --help` lists them.
import type { Command } from '../command';
import { cancel } from './cancel';
import { download } from './download';
import { list } from './list';
import { pause, resume } from './pause-resume';
import { record } from './record';
import { replay } from './replay';
import { results } from './results';
import { status } from './status';
import { submit } from './submit';
import { wait } from './wait';

export const COMMANDS: readonly Command[] = [
  submit,
  wait,
  status,
  list,
  cancel,
  download,
  results,
  record,
  pause,
  resume,
  replay,
];
