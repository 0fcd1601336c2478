import { defineConfig } from 'vite';

// The page is served by `switchyard demo` at `/` from web-demo/dist. During `npm run dev`,
// point SWITCHYARD_URL at a running demo server (e.g. http://127.0.0.1:3000) to proxy
// the socket and the demo routes.
const backend = process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 800,
  },
  optimizeDeps: {
    // wasm-bindgen output loads its .wasm via import.meta.url; keep it out of pre-bundling.
    exclude: ['switchyard-wasm'],
  },
  server: {
    proxy: {
      '/demo': backend,
      '/socket.io': { target: backend, ws: true },
    },
  },
});
