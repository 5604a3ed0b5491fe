#!/usr/bin/env node
// The compiled CLI lives in dist/ (npm run build). This shim keeps `npx pgwarden` and
// `npm start` working from a checkout.
import { main } from '../dist/cli/main.js';
main(process.argv);
