import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/** The analyst's dashboard, built into dashboard/dist and served by the query service at `/`. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // One small bundle: no code splitting, no source maps shipped to browsers.
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
})
