export { buildProgram, main, reportError } from './main.ts';
