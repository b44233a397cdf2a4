<?php 
Print "Hello World! PHP is running on Nomad";
?>
