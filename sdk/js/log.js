// Log lines that land in the host's log, tagged with the deployment.
import { log as wit } from 'ballot:election/log@0.1.0';

/** Writes one line at `level` ('trace', 'debug', 'info', 'warn' or 'error'). */
export const log = (level, message) => wit(level, String(message));
export const trace = (message) => log('trace', message);
export const debug = (message) => log('debug', message);
export const info = (message) => log('info', message);
export const warn = (message) => log('warn', message);
export const error = (message) => log('error', message);
