'use strict';
// nx loads plugins with require(), and Node 20 cannot strip TypeScript types itself: compile the
// plugin through tsx (already a workspace dependency) under its own namespace, so nothing else in
// the nx process starts compiling .ts files.
const { register } = require('tsx/cjs/api');

const tsx = register({ namespace: 'weft-nx-plugin' });
module.exports = tsx.require('./plugin.ts', __filename);
