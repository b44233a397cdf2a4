//! The default seccomp filter of an `exec` task, after Docker's default profile (which
//! Nomad's exec driver also follows through libcontainer): the calls that reach past a
//! task's namespaces and cgroup fail with `EPERM`. That covers new namespaces (`unshare`,
//! `setns`, `clone` with a namespace flag; `unshare -Ur` no longer gives uid 0), mounts,
//! the keyring, `ptrace` and other processes' memory, kernel modules, BPF, perf, clocks,
//! swap and reboot, and device nodes (`mknod` of a character or block device).
//!
//! `clone3` fails with `ENOSYS` instead, as in Docker's profile: its flags sit in memory
//! a filter cannot read, and `ENOSYS` makes the C library fall back to `clone`, whose
//! flags the filter checks.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// Calls an `exec` task may never make, whatever their arguments.
const DENIED: &[i64] = &[
    libc::SYS_acct,
    libc::SYS_add_key,
    libc::SYS_bpf,
    libc::SYS_clock_adjtime,
    libc::SYS_clock_settime,
    libc::SYS_delete_module,
    libc::SYS_finit_module,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fsopen,
    libc::SYS_fspick,
    libc::SYS_init_module,
    libc::SYS_kcmp,
    libc::SYS_kexec_file_load,
    libc::SYS_kexec_load,
    libc::SYS_keyctl,
    libc::SYS_lookup_dcookie,
    libc::SYS_mount,
    libc::SYS_mount_setattr,
    libc::SYS_move_mount,
    libc::SYS_name_to_handle_at,
    libc::SYS_open_by_handle_at,
    libc::SYS_open_tree,
    libc::SYS_perf_event_open,
    libc::SYS_pivot_root,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_ptrace,
    libc::SYS_quotactl,
    libc::SYS_reboot,
    libc::SYS_request_key,
    libc::SYS_setns,
    libc::SYS_settimeofday,
    libc::SYS_swapoff,
    libc::SYS_swapon,
    libc::SYS_syslog,
    libc::SYS_umount2,
    libc::SYS_unshare,
    libc::SYS_userfaultfd,
    libc::SYS_vhangup,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ustat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS__sysctl,
];

/// `clone` flags that make new namespaces.
const NAMESPACE_FLAGS: &[i32] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

fn masked(arg: u8, mask: u64, value: u64) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(vec![SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(mask),
        value,
    )?])
}

/// `mknod`-style calls with the mode in argument `arg`: refused for character and block
/// devices (fifos and sockets stay allowed).
fn device_nodes(arg: u8) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let kind = libc::S_IFMT as u64;
    Ok(vec![
        masked(arg, kind, libc::S_IFCHR as u64)?,
        masked(arg, kind, libc::S_IFBLK as u64)?,
    ])
}

/// The compiled filters, in the order they are installed: the `EPERM` one, then the
/// `ENOSYS` one for `clone3`.
pub fn default_filters() -> Result<Vec<BpfProgram>, String> {
    build().map_err(|e| format!("failed to build the seccomp filter: {e}"))
}

fn build() -> Result<Vec<BpfProgram>, seccompiler::Error> {
    let arch: seccompiler::TargetArch = std::env::consts::ARCH
        .try_into()
        .map_err(seccompiler::Error::Backend)?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|call| (*call, Vec::new())).collect();
    rules.insert(
        libc::SYS_clone,
        NAMESPACE_FLAGS
            .iter()
            .map(|flag| masked(0, *flag as u64, *flag as u64))
            .collect::<Result<_, _>>()?,
    );
    #[cfg(target_arch = "x86_64")]
    rules.insert(libc::SYS_mknod, device_nodes(1)?);
    rules.insert(libc::SYS_mknodat, device_nodes(2)?);
    let denied = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?;
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    Ok(vec![denied.try_into()?, clone3.try_into()?])
}

/// Installs the filters on the calling thread, which must already have `no_new_privs`
/// (or `CAP_SYS_ADMIN`). Called in the forked task just before `execve`; every process
/// the task starts inherits them.
pub fn install(filters: &[BpfProgram]) -> Result<(), String> {
    for filter in filters {
        seccompiler::apply_filter(filter).map_err(|e| format!("seccomp: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filters_compile_for_this_machine() {
        let filters = default_filters().unwrap();
        assert_eq!(filters.len(), 2);
        assert!(filters.iter().all(|f| !f.is_empty()));
    }

    #[test]
    fn a_filtered_child_cannot_unshare_or_mknod_but_can_fork() {
        // SAFETY: geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let filters = default_filters().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let node =
            std::ffi::CString::new(dir.path().join("null").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: the child only makes plain syscalls and _exits; the test harness may
        // have other threads, but the child touches no lock they could hold.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            unsafe {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if install(&filters).is_err() {
                    libc::_exit(10);
                }
                if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                    libc::_exit(11);
                }
                // As root mknod would succeed without the filter.
                let dev = libc::makedev(1, 3);
                if libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o666, dev) == 0 {
                    libc::_exit(12);
                }
                let grandchild = libc::fork();
                if grandchild < 0 {
                    libc::_exit(13);
                }
                if grandchild == 0 {
                    libc::_exit(0);
                }
                let mut status = 0;
                libc::waitpid(grandchild, &mut status, 0);
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 0, "root: {root}");
    }
}
