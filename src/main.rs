#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`, which its bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // mimalloc hands freed memory back to the system a second after it is
    // freed, by which time a blocking thread that ran a bulk invite has kept
    // its few megabytes resident; every such thread adds to the peak. Handed
    // back at once, the server's peak stays near what it uses.
    // SAFETY: mi_option_set is not thread-safe; no other thread exists yet.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    rollcall::cli::run()
}
