# A group on its own is not a job spec.
group "web" {
  task "server" {
    driver = "exec"
  }
}
