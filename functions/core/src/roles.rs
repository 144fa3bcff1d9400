//! What each function of the template runs, by its binary name
//! (`Metadata.BuildProperties.Binary`): the one map the local runtime's
//! gateway and task dispatch read, so a function is what its binary is.

use crate::domain::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A stage the state machine invokes as a task.
    Task(Stage),
    /// Serves HttpApi routes.
    Http(HttpHandler),
    /// Drains the intake queue into executions.
    Starter,
    /// The scheduled accuracy review.
    Review,
}

/// Which core handler serves an HTTP function's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpHandler {
    Ingest,
    Callback,
    ReadApi,
}

/// `None` for a binary this code base does not build.
pub fn role_of(binary: &str) -> Option<Role> {
    Some(match binary {
        "context" => Role::Task(Stage::Context),
        "reason" => Role::Task(Stage::Reason),
        "decide" => Role::Task(Stage::Decide),
        "approval" => Role::Task(Stage::Approval),
        "act" => Role::Task(Stage::Act),
        "finalize" => Role::Task(Stage::Finalize),
        "ingest" => Role::Http(HttpHandler::Ingest),
        "callback" => Role::Http(HttpHandler::Callback),
        "api" => Role::Http(HttpHandler::ReadApi),
        "starter" => Role::Starter,
        "review" => Role::Review,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_of_the_workspace_has_a_role() {
        let functions = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut binaries = 0;
        for entry in std::fs::read_dir(functions).unwrap() {
            let dir = entry.unwrap().path();
            if dir.join("src/main.rs").exists() {
                let binary = dir.file_name().unwrap().to_str().unwrap().to_string();
                assert!(role_of(&binary).is_some(), "{binary} has no role");
                binaries += 1;
            }
        }
        assert_eq!(binaries, 11);
    }
}
