export { main, reportError } from './main.ts';
