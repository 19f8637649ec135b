import { packageTestConfig } from '../../tools/vitest-package.ts';

export default packageTestConfig('tokenize');
