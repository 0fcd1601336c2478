//! The edges: where wire input becomes core types and core answers become wire output, and
//! nothing more. [`api`] is the HTTP API for backend services, [`socket`] the Socket.IO
//! endpoint for clients, [`demo`] the demo mode's routes (built on the API's extractors and
//! error body).

pub mod api;
pub mod demo;
pub(crate) mod socket;
