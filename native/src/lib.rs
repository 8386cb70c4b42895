//! v8-isolates: untrusted JavaScript in separate V8 isolates, each on its own
//! thread, driven from Node through Node-API.

pub mod engine;
pub mod guest;
pub mod node;
pub mod ops;
pub mod transfer;

#[neon::main]
fn main(mut cx: neon::prelude::ModuleContext) -> neon::prelude::NeonResult<()> {
    engine::platform::init();
    node::register(&mut cx)
}
