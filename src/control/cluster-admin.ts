// Moved to src/cluster/admin.ts; this re-export goes once its last importer has moved.
export * from '../cluster/admin.js';
