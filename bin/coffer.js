#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm install / npm test build it into dist/).
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
